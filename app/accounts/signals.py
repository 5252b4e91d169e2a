"""Drop cached authentication whenever a token or its user changes (see app.api.authentication)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from app.accounts.models import User
from app.api.authentication import auth_cache_forget


@receiver([post_save, post_delete], sender=Token)
def _token_changed(instance: Token, **kwargs) -> None:
    auth_cache_forget([instance.key])


@receiver([post_save, post_delete], sender=User)
def _user_changed(instance: User, **kwargs) -> None:
    auth_cache_forget(list(Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)))
