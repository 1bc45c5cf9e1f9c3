"""What admin's forms accept, for Schedules and (as a mixin) Strategies.

- JSON fields go through `jsoninput.JSONFormField`: NaN, Infinity and deep nesting are
  an error on the field, not a 500 at save.
- A whole-number field checks its model's bounds in the form itself: Django gives a
  PositiveIntegerField's form field a minimum of 0, so −5 was answered "at least 0" and
  then 0 "at least 1"; now both say the real minimum.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .jsoninput import JSONFormField


class AdminInput:
    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.IntegerField):
            for validator in db_field.validators:
                if isinstance(validator, MinValueValidator):
                    kwargs.setdefault("min_value", validator.limit_value)
                elif isinstance(validator, MaxValueValidator):
                    kwargs.setdefault("max_value", validator.limit_value)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
