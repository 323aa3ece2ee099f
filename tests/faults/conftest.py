"""The fault suite reuses the real services of the Kafka and prod suites (a tansu broker; moto S3 and
embedded Postgres), each started once per session and only by the tests that ask for them."""

from tests.kafka.conftest import group_id, kafka_broker, kafka_settings, kafka_topic  # noqa: F401
from tests.prod.conftest import bucket, make_store, pg_server, pg_url, s3, s3_endpoint  # noqa: F401
