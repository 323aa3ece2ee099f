"""Kafka ingestion: synthetic events to Kafka, and Kafka topics into the landing zone.

``produce.produce_events`` sends the generator's events (one contract JSON event per message, keyed
by user_id). ``consumer.make_consumer`` + ``land.land_batch`` land the topics as gzip JSONL files in
the hour folder of each event's event_time, with exactly-once effect (``land``'s module doc explains
how crashes are handled). Broker problems raise ``KafkaUnavailable`` (a ``KafkaLandingError``, both in
``client``) naming the broker address, always within bounded time, and never after a commit::

    consumer = make_consumer(settings)  # subscribed to SHOPPER_KAFKA_TOPICS, group "shopper-landing"
    try:
        report = land_batch(consumer, landing, max_messages=200_000, timeout_s=10)
    finally:
        consumer.close()
    report.hours  # naive UTC hours whose folders changed: re-materialize those partitions

Modules: ``produce`` (producer), ``consumer`` (consumer with bounded commit/close), ``land`` (one
batch, end to end), ``batch`` (message columns), ``scan`` (lines and their hours, on a worker
thread), ``files`` (files per hour and partition: names, writing, replacing), ``client`` (errors,
client settings), ``broker`` (reachability, topics, a local broker). Nothing is imported here, so a
caller loads only the modules it uses (the producer pulls in the generator).
"""
