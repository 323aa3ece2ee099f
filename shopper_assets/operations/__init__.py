"""Operations: freshness policies, alerts to the operators' destinations, pipeline health.

* :mod:`freshness` - the ``FreshnessPolicy`` of every lake table and mart, from the settings;
* :mod:`alert_sensor` - one alert per incident (failed run, failed blocking check, stale asset,
  Kafka unreachable or behind) and one "resolved" when it clears;
* :mod:`incidents` - what an incident is and when it clears (pure, no Dagster instance);
* :mod:`destinations` - the webhook, Slack (dagster-slack) and e-mail (SMTP).
"""
