"""Simulators of the Guangsha (广厦) and Guanbeigou (官北沟) pilot communities.

``model`` reads community files, ``behaviour`` makes readings, ``runner`` connects one MQTT
session per device, ``cli`` is ``python -m hgj_sim``.
"""

__version__ = "0.1.0"
