"""The settings the code location was loaded with (read once, when `definitions.py` is imported).

Used for what Dagster fixes at load time: the first daily partition, the kinds
shown in the UI, and the resources bound to the code location. Runs launched by
the CLI pass their own resources built from the CLI's settings.
"""

from learning_loop.settings import Settings

LOCATION_SETTINGS = Settings.from_env()
