from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assistant.lib.invisible import has_visible
from ingest.models import Collection


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, strip=True)
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.none(),
        required=False,
        empty_label=gettext_lazy("All collections"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = Collection.objects.readable_by(user)


class AskForm(forms.Form):
    question = forms.CharField(
        max_length=settings.QUESTION_MAX_CHARS,
        strip=True,
    )
    high_accuracy = forms.BooleanField(required=False)
    collections = forms.ModelMultipleChoiceField(
        queryset=Collection.objects.none(),
        required=False,
        # Unreadable and missing look the same: nothing says which exists.
        error_messages=dict.fromkeys(
            ["invalid_choice", "invalid_pk_value"],
            gettext_lazy("One of the chosen collections does not exist or is not yours to read."),
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collections"].queryset = Collection.objects.readable_by(user)
        self.fields["question"].error_messages = {
            "required": _("Please write a question."),
            "max_length": _("Please write a question of at most %(n)s characters.")
            % {"n": formats.number_format(settings.QUESTION_MAX_CHARS, force_grouping=True)},
        }

    def clean_question(self) -> str:
        question = self.cleaned_data["question"]
        if not has_visible(question):  # zero-width or control characters only: not charged
            raise forms.ValidationError(self.fields["question"].error_messages["required"])
        return question

    def refusal(self) -> str:
        """Why the question was not taken, for the person who asked it."""
        return " ".join(errors[0] for errors in self.errors.values())


class RenameForm(forms.Form):
    title = forms.CharField(max_length=200, strip=True)


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("1", "up"), ("0", "down")], coerce=lambda v: v == "1"
    )
    comment = forms.CharField(required=False, max_length=2000, strip=True)
