"""MQTT topic names: the one place that spells them."""

from __future__ import annotations

ROOT = "vigil"


def gateway_readings(site: str, gateway: str) -> str:
    """Topic a gateway publishes JSON readings on."""
    return f"{ROOT}/{site}/gateways/{gateway}/readings"


def gateway_status(site: str, gateway: str) -> str:
    """Retained online/offline topic of a gateway (offline is its Last Will)."""
    return f"{ROOT}/{site}/gateways/{gateway}/status"


def gateway_frames(site: str, gateway: str, protocol: str) -> str:
    """Topic a transparent gateway publishes raw meter frames on."""
    return f"{ROOT}/{site}/gateways/{gateway}/frames/{protocol}"


def gateway_tree(site: str, gateway: str) -> str:
    """Everything one gateway may publish under."""
    return f"{ROOT}/{site}/gateways/{gateway}/#"


def all_gateway_readings(site: str) -> str:
    """Subscription filter for every gateway's readings."""
    return f"{ROOT}/{site}/gateways/+/readings"


def all_gateway_status(site: str) -> str:
    """Subscription filter for every gateway's status."""
    return f"{ROOT}/{site}/gateways/+/status"


def camera_health(site: str, camera: str) -> str:
    """Retained health of one camera (JSON)."""
    return f"{ROOT}/{site}/cameras/{camera}/health"


def all_camera_health(site: str) -> str:
    """Subscription filter for every camera's health."""
    return f"{ROOT}/{site}/cameras/+/health"


def coverage(site: str) -> str:
    """Retained perimeter coverage report (JSON: blind spots, single-covered stretches)."""
    return f"{ROOT}/{site}/perimeter/coverage"


def coverage_status(site: str) -> str:
    """Retained status of the coverage monitor (JSON: online + heartbeat, or offline: its Last Will)."""
    return f"{ROOT}/{site}/perimeter/coverage/status"


def alert(site: str, alert_id: str) -> str:
    """Retained state of one alert (JSON); an empty retained payload clears it."""
    return f"{ROOT}/{site}/alerts/{alert_id}"


def all_alerts(site: str) -> str:
    """Subscription filter for every alert."""
    return f"{ROOT}/{site}/alerts/#"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT v5 shared subscription of `topic_filter` for consumer group `group`."""
    return f"$share/{group}/{topic_filter}"


def all_gateway_frames(site: str) -> str:
    """Subscription filter for every gateway's raw meter frames, any protocol."""
    return f"{ROOT}/{site}/gateways/+/frames/+"


def frame_protocol_of(topic: str) -> str | None:
    """Return the protocol of a `vigil/{site}/gateways/{gateway}/frames/{protocol}` topic, or None."""
    parts = topic.split("/")
    if len(parts) == 6 and parts[0] == ROOT and parts[2] == "gateways" and parts[4] == "frames" and parts[5]:
        return parts[5]
    return None


def gateway_of(topic: str) -> str | None:
    """Return the gateway id in a `vigil/{site}/gateways/{gateway}/...` topic, or None."""
    parts = topic.split("/")
    if len(parts) >= 5 and parts[0] == ROOT and parts[2] == "gateways" and parts[3]:
        return parts[3]
    return None


def site_of(topic: str) -> str | None:
    """Return the site id in a `vigil/{site}/...` topic, or None."""
    parts = topic.split("/")
    if len(parts) >= 2 and parts[0] == ROOT and parts[1]:
        return parts[1]
    return None
