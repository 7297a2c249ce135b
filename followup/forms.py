from __future__ import annotations

from django import forms

from followup.models import RecheckPolicy


class RecheckPolicyForm(forms.ModelForm):
    class Meta:
        model = RecheckPolicy
        fields = ["enabled", "first_after_days", "every_days", "max_age_days", "window_start",
                  "window_end", "chunk_size", "pending_worklist_days", "payer_review_days"]
        widgets = {"window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def clean(self) -> dict:
        data = super().clean()
        if data.get("every_days") == 0:
            self.add_error("every_days", "At least every day.")
        return data
