from django.apps import AppConfig


class PulseConfig(AppConfig):
    name = "pulse"
    verbose_name = "Pulse"

    def ready(self) -> None:
        # Registers the realtime publisher with monitors.events in every process
        # (the Celery workers record check results; daphne serves the sockets).
        import pulse.realtime  # noqa: F401
