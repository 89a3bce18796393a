from __future__ import annotations

from django import forms

from ingest.models import Collection


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, strip=True)
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.none(), required=False, empty_label="All collections"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = Collection.objects.readable_by(user)
