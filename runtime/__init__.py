"""Process infrastructure under every other package: settings from the
environment (``runtime.settings``).  No Flask, no domain; importing it does
nothing but define names."""
