"""Simulators of the Guangsha (广厦) and Guanbeigou (官北沟) pilot communities.

``model`` reads community files, ``behaviour`` and ``device`` make messages, ``session`` and
``runner`` connect one MQTT session per device, ``scenario`` plays scripted timelines, ``load``
generates load, ``cli`` is ``python -m hgj_sim``.
"""

__version__ = "0.1.0"
