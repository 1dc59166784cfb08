"""A department's own confluent-kafka consumer, authenticated with its SCRAM user."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Producer

from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_config import Credentials


@dataclass
class Reading:
    """What the consumer saw: values read, and the error codes since the last record (or
    since `forget_errors`)."""

    values: list[str] = field(default_factory=list)
    errors: set[int] = field(default_factory=set)

    def forget_errors(self) -> None:
        self.errors = set()


class DepartmentReader:
    """A member of the department's own group (`govbus.<dept>.…`) subscribed to `topic`, as
    the department's app would be. It keeps fetching, so a revoked READ shows at once."""

    def __init__(self, cluster: ClusterHandle, user: Credentials, topic: str, group: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": cluster.bootstrap_servers,
                **user.client_config(),
                "group.id": group,
                "auto.offset.reset": "earliest",
                # A denied topic has no usable metadata; look again soon, to read once granted.
                "topic.metadata.refresh.interval.ms": 1000,
                "log_level": 0,
            }
        )
        self._consumer.subscribe([topic])
        self.reading = Reading()

    def poll_until(self, done: Callable[[Reading], bool], timeout: float) -> bool:
        """Poll until `done(reading)` or the timeout; whether it was done."""
        deadline = time.monotonic() + timeout
        while not done(self.reading):
            if time.monotonic() > deadline:
                return False
            message = self._consumer.poll(0.1)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                self.reading.errors.add(error.code())
            elif (value := message.value()) is not None:
                self.reading.values.append(value.decode())
                self.reading.forget_errors()
        return True

    def close(self) -> None:
        self._consumer.close()


@contextmanager
def department_reader(
    cluster: ClusterHandle, user: Credentials, topic: str, group: str
) -> Iterator[DepartmentReader]:
    reader = DepartmentReader(cluster, user, topic, group)
    try:
        yield reader
    finally:
        reader.close()


def denied(reading: Reading) -> bool:
    return KafkaError.TOPIC_AUTHORIZATION_FAILED in reading.errors


def read_all(values: list[str]) -> Callable[[Reading], bool]:
    return lambda reading: set(values) <= set(reading.values)


def produce_as_admin(cluster: ClusterHandle, topic: str, values: list[str]) -> None:
    producer = Producer({**cluster.client_config(), "acks": "all", "log_level": 0})
    for value in values:
        producer.produce(topic, value.encode())
    assert producer.flush(30) == 0
