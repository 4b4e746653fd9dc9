"""The form administrators edit an alert rule with: a signal, a comparison and a threshold chosen in lists and
fields, never an expression typed as text. The threshold's meaning is checked by AlertRule.clean()."""

from cadre.core.forms import VersionedModelForm, french_decimals
from cadre.monitoring.alert_models import SIGNALS, AlertRule


class AlertRuleForm(VersionedModelForm):
    class Meta:
        model = AlertRule
        fields = ["name", "signal", "comparison", "threshold", "consecutive_years", "severity", "active", "source"]
        formfield_callback = french_decimals

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each signal says its unit, so the threshold is typed in it.
        self.fields["signal"].choices = [
            ("", "---------"),
            *((signal.code, f"{signal.label} ({signal.unit})") for signal in SIGNALS.values()),
        ]
