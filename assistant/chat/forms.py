from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assistant.chat.rendering import used_markers
from assistant.lib.invisible import has_visible
from ingest.models import Collection, Document


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


_CITATION = re.compile(r"^\s*(\d+)(?:\s*(?:p\.?|page|第)\s*(\d+)\s*页?)?\s*$", re.IGNORECASE)


class ReviewedAnswerForm(forms.Form):
    """A reviewed answer as staff write it: variants and citations one per line."""

    question = forms.CharField(
        label=gettext_lazy("Question"), max_length=settings.QUESTION_MAX_CHARS, strip=True
    )
    answer = forms.CharField(
        label=gettext_lazy("Answer"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20_000,
        strip=True,
        help_text=gettext_lazy("Markdown; [1], [2]… point to the citations in their order."),
    )
    variants = forms.CharField(
        label=gettext_lazy("Other ways to ask it"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=gettext_lazy("One per line, in English and Chinese."),
    )
    collections = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Collections"),
        queryset=Collection.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Shown only to people who may read every one of these."),
    )
    citations = forms.CharField(
        label=gettext_lazy("Citations"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=gettext_lazy("One per line: the document's number, and its page if any (42 p3)."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["collections"].queryset = Collection.objects.readable_by(user)

    def clean_variants(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["variants"].splitlines() if line.strip()]

    def clean_citations(self) -> list[tuple[Document, int | None]]:
        cited = []
        readable = Document.objects.readable_by(self.user).filter(status=Document.Status.READY)
        for line in filter(str.strip, self.cleaned_data["citations"].splitlines()):
            found = _CITATION.match(line)
            document = found and readable.filter(pk=found.group(1)).first()
            if not document:
                raise forms.ValidationError(
                    _("“%(line)s” is not a document you may read (write its number, then p3).")
                    % {"line": line.strip()[:80]}
                )
            cited.append((document, int(found.group(2)) if found.group(2) else None))
        return cited

    def clean(self):
        data = super().clean()
        cited = len(data.get("citations") or [])
        if (
            "answer" in data
            and "citations" in data
            and max(used_markers(data["answer"]), default=0) > cited
        ):
            raise forms.ValidationError(
                _("The answer cites [%(n)s] but has %(cited)s citations.")
                % {"n": max(used_markers(data["answer"])), "cited": cited}
            )
        return data


class ResolveForm(forms.Form):
    """Take an answer out of the review queue without a reviewed answer."""

    resolution = forms.ChoiceField(choices=[("content_gap", "gap"), ("dismissed", "dismiss")])
    note = forms.CharField(required=False, max_length=500, strip=True)
    document = forms.ModelChoiceField(queryset=Document.objects.none(), required=False)
    collection = forms.ModelChoiceField(queryset=Collection.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["document"].queryset = Document.objects.readable_by(user)
        self.fields["collection"].queryset = Collection.objects.readable_by(user)

    def clean(self):
        data = super().clean()
        if data.get("resolution") == "dismissed" and not data.get("note"):
            raise forms.ValidationError(_("Say why it is dismissed."))
        gap = data.get("resolution") == "content_gap"
        if gap and not (data.get("document") or data.get("collection")):
            raise forms.ValidationError(_("Name the document or collection that lacks it."))
        return data
