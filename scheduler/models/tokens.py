"""Per-user API tokens for scripts."""

from django.conf import settings
from django.db import models


class ApiTokenQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A token acts as its user: a superuser reaches every token, anyone else theirs."""
        return self if user.is_superuser else self.filter(user_id=user.pk)


class ApiToken(models.Model):
    """A per-user API token for scripts (`Authorization: Bearer <token>`).

    Only a SHA-256 digest is stored: the token is shown once, when it is created in
    admin, and a leaked database does not leak working tokens. Tokens are long random
    strings, so a fast hash is enough (no guessing attack to slow down)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'deploy script'.")
    prefix = models.CharField(
        max_length=12, editable=False, help_text="The token's first characters, to tell it apart."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
