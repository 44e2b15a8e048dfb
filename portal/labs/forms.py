"""Launch forms generated from a lab's pydantic JSON schema (types, ranges, choices, defaults, help)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.labs.registry import Lab


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return {**defs[ref.rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _unwrap_optional(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`X | None` is anyOf [X, null] in JSON schema: (X, nullable)."""
    options = schema.get("anyOf")
    if not options:
        return _resolve(schema, defs), False
    non_null = [o for o in options if o.get("type") != "null"]
    if len(non_null) == 1 and len(non_null) < len(options):
        inner = {**_resolve(non_null[0], defs)}
        for key in ("default", "description", "title"):
            if key in schema:
                inner[key] = schema[key]
        return inner, True
    return schema, False


class ListField(forms.CharField):
    """A list of numbers or strings typed as "1, 4, 16"."""

    def __init__(self, *, item_type: str, **kwargs: Any) -> None:
        self.item_type = item_type
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return []
        items = [item.strip() for item in text.split(",") if item.strip()]
        cast = {"integer": int, "number": float}.get(self.item_type, str)
        try:
            return [cast(item) for item in items]
        except ValueError as exc:
            raise forms.ValidationError(
                _("Enter a comma-separated list of %(kind)s.") % {"kind": self.item_type}
            ) from exc


class JSONValueField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return value if isinstance(value, str) else json.dumps(value)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Enter valid JSON.")) from exc


def _field_for(prop: dict[str, Any], defs: dict[str, Any], required: bool) -> forms.Field:
    schema, nullable = _unwrap_optional(prop, defs)
    common: dict[str, Any] = {
        "label": prop.get("title") or schema.get("title"),
        "help_text": prop.get("description") or schema.get("description", ""),
        "initial": prop.get("default", schema.get("default")),
        "required": required and not nullable and "default" not in prop,
    }
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        values = schema.get("enum") or [schema["const"]]
        choices = [(v, v) for v in values]
        if nullable or not common["required"]:
            choices = [("", "—"), *choices] if nullable else choices
        return forms.TypedChoiceField(
            choices=choices, coerce=type(values[0]), empty_value=None, **common
        )
    if kind == "boolean":
        return forms.BooleanField(**{**common, "required": False})
    if kind in ("integer", "number"):
        field_cls = forms.IntegerField if kind == "integer" else forms.FloatField
        bounds = {
            "min_value": schema.get("minimum", schema.get("exclusiveMinimum")),
            "max_value": schema.get("maximum", schema.get("exclusiveMaximum")),
        }
        if kind == "number":
            bounds["widget"] = forms.NumberInput(attrs={"step": "any"})
        return field_cls(**common, **{k: v for k, v in bounds.items() if v is not None})
    if kind == "array":
        items = _resolve(schema.get("items", {}), defs)
        if "enum" in items:
            return forms.MultipleChoiceField(
                choices=[(v, v) for v in items["enum"]],
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
        return ListField(item_type=items.get("type", "string"), **common)
    if kind == "string":
        return forms.CharField(max_length=schema.get("maxLength"), **common)
    return JSONValueField(**common)


class LabParamsForm(forms.Form):
    """Built per lab by `params_form`; `params()` gives the dict to validate with the lab."""

    lab: Lab

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v is not None}

    def add_param_errors(self, errors: list[dict[str, Any]]) -> None:
        for err in errors:
            field = err["loc"][0] if err["loc"] else None
            self.add_error(field if field in self.fields else None, err["msg"])


def params_form(lab: Lab, data: Any = None) -> LabParamsForm:
    schema = lab.parameter_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields = {
        name: _field_for(prop, defs, name in required)
        for name, prop in schema.get("properties", {}).items()
    }
    form_class = type(f"{lab.id.title().replace('-', '')}Form", (LabParamsForm,), fields)
    form = form_class(data, prefix=lab.id)
    form.lab = lab
    return form
