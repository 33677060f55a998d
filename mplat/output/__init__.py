"""Plans and apply results rendered for people; imports only ``plan`` and ``values``."""
