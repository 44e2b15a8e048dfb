from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from portal.core.ratelimit import login_retry_after


class SignUpForm(UserCreationForm):
    email = forms.EmailField(label=_("Email"), required=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100, initial="default")


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form, refusing (before checking the password) while the username is locked."""

    locked = False

    def clean(self) -> dict[str, object]:
        username = self.cleaned_data.get("username")
        if username:
            retry_after = login_retry_after(self.request, username)
            if retry_after:
                self.locked = True
                raise forms.ValidationError(
                    _("Too many failed sign-ins. Try again in %(minutes)d minutes."),
                    code="locked",
                    params={"minutes": max(1, retry_after // 60)},
                )
        return super().clean()
