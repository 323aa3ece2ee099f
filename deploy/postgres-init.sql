-- Second database for Dagster's run, event-log and schedule storage (the warehouse is "shopper").
CREATE DATABASE dagster;
