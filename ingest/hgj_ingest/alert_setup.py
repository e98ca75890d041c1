"""Build the alert lane from settings: rule file, state database, delivery."""

import paho.mqtt.client as mqtt

from hgj_ingest.alert_lane import AlertLane
from hgj_ingest.alerting import RuleEngine, load_default_rules, load_rules
from hgj_ingest.counters import Counters
from hgj_ingest.settings import IngestSettings
from hgj_ingest.writers import make_writer
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.escalation import DEFAULT_POLICY


def make_alert_lane(
    settings: IngestSettings, client: mqtt.Client, counters: Counters
) -> AlertLane | None:
    if settings.role == "store":
        return None
    rules = load_rules(settings.rules_path) if settings.rules_path else load_default_rules()
    return AlertLane(
        root=settings.root,
        engine=RuleEngine(rules),
        store=AlertStore.open(settings.state_db_url),
        client=client,
        # Its own connection: alert exports must not queue behind a telemetry batch.
        points=make_writer(settings),
        counters=counters,
        escalation=DEFAULT_POLICY,
        tick_s=settings.alert_tick_s,
    )
