"""The topics the catalog implies, and their configuration.

Base topics keep every event forever and are never compacted: events are partial updates,
so compaction by key would drop fields, and `govbus sync --rebuild` replays from offset 0.
"""

from __future__ import annotations

from govbus._catalog import Catalog
from govbus._kafka import admin_config, ensure_topics
from govbus._settings import Settings

BASE_TOPIC_CONFIG = {"retention.ms": "-1", "cleanup.policy": "delete"}
DEAD_LETTER_TOPIC_CONFIG = {"retention.ms": str(90 * 24 * 3600 * 1000), "cleanup.policy": "delete"}


def catalog_topics(
    catalog: Catalog, settings: Settings, prefix: str = ""
) -> dict[str, dict[str, str]]:
    """Topic name → config for every base topic and the dead-letter topic."""
    topics = {f"{prefix}{topic}": BASE_TOPIC_CONFIG for topic in catalog.topics()}
    topics[settings.dlq_topic] = DEAD_LETTER_TOPIC_CONFIG
    return topics


def ensure_catalog_topics(
    catalog: Catalog,
    settings: Settings,
    *,
    prefix: str = "",
    partitions: int = 6,
    replication_factor: int = -1,
) -> list[str]:
    """Create whatever base or dead-letter topic is missing; returns the names created."""
    topics = catalog_topics(catalog, settings, prefix)
    created: list[str] = []
    for config in (BASE_TOPIC_CONFIG, DEAD_LETTER_TOPIC_CONFIG):
        names = [name for name, cfg in topics.items() if cfg is config]
        created += ensure_topics(
            admin_config(settings),
            names,
            partitions=partitions,
            replication_factor=replication_factor,
            config=config,
        )
    return created
