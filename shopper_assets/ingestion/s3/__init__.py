"""S3 ingestion: the landing zone in a bucket, and files dropped under ``incoming/`` landed into it.

Modules: ``landing_zone`` (``S3LandingZone``, the prod landing zone), ``drops`` (one sensor tick's
drops: event JSONL and REES46 CSV into hour folders), ``ad_spend_drops`` (ad-spend CSV split into day
folders). The boto3 client comes from ``storage/s3_client.py``, shared with the S3 lake.
"""
