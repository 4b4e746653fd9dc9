from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cadre.accounts"
    label = "accounts"
    verbose_name = "Comptes"

    def ready(self):
        from cadre.accounts import signals

        signals.connect()
