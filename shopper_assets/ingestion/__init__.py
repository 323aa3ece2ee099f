"""Getting events into the landing zone and reading landed files back as lines.

Shared by every source: ``landing`` (the landing zone's interface and its local folder), ``lines``
(landed gzip JSONL as Arrow tables of lines), ``csv_lines`` (CSV fields in DuckDB SQL), ``rees46``
(REES46 CSV to contract events). Per transport: ``kafka/`` (producer, lander, local broker) and
``s3/`` (the S3 landing zone and drops under ``incoming/``).
"""
