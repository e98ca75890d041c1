"""Simulators of the Guangsha (广厦) and Guanbeigou (官北沟) pilot communities."""
