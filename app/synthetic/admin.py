from django.contrib import admin

from .models import ExpectedRating


@admin.register(ExpectedRating)
class ExpectedRatingAdmin(admin.ModelAdmin):
    list_display = ("job", "cleaner", "expected_rating")
    raw_id_fields = ("job", "cleaner")
