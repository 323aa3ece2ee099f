"""Errors and client settings shared by the Kafka producer and lander.

Every client gets bounded timeouts, so a dead broker surfaces as an exception within seconds instead
of a silent hang; errors name the broker address, because "timed out" alone does not say where.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

#: Seconds a single broker request (metadata, committed offsets, commit) may take.
DEFAULT_OP_TIMEOUT_S = 10.0

#: Error codes that mean "cannot reach a working broker", as opposed to a refused request.
UNAVAILABLE_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._WAIT_COORD,
        KafkaError._RESOLVE,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.BROKER_NOT_AVAILABLE,
    }
)


class KafkaLandingError(RuntimeError):
    """Kafka refused or failed a step of landing; nothing was committed for the batch."""

    def __init__(self, bootstrap: str, step: str, error: object):
        self.bootstrap = bootstrap
        self.step = step
        self.error = error
        super().__init__(f"Kafka at {bootstrap}: {step} failed: {error}")


class KafkaUnavailable(KafkaLandingError):
    """The broker could not be reached (down, unreachable or timing out); nothing was committed."""

    def __init__(self, bootstrap: str, step: str, error: object):
        super().__init__(bootstrap, step, error)
        self.args = (f"Kafka broker {bootstrap} unavailable during {step}: {error}",)

    def __str__(self) -> str:
        return self.args[0]


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The KafkaError inside a KafkaException, if any."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def as_landing_error(exc: BaseException, bootstrap: str, step: str) -> KafkaLandingError:
    """Wrap a client exception: KafkaUnavailable for connectivity codes, KafkaLandingError otherwise."""
    err = kafka_error(exc)
    if err is not None and err.code() in UNAVAILABLE_CODES:
        return KafkaUnavailable(bootstrap, step, err.str())
    return KafkaLandingError(bootstrap, step, err.str() if err is not None else repr(exc))


def base_config(bootstrap: str, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S) -> dict:
    """Settings every client gets: bounded socket and metadata timeouts, quiet logs."""
    timeout_ms = int(op_timeout_s * 1000)
    return {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": timeout_ms,
        "socket.connection.setup.timeout.ms": timeout_ms,
        "reconnect.backoff.max.ms": 1000,
        "log_level": 3,  # errors only: connection refusals are reported through exceptions instead
    }
