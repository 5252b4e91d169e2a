from django.contrib import admin

from .models import Bid, CleanerProfile, CleaningJob, ClientProfile, Property, Review


@admin.register(CleanerProfile)
class CleanerProfileAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "hourly_rate", "service_radius_km", "years_experience", "verified", "is_active")
    list_filter = ("verified", "is_active")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)


@admin.register(ClientProfile)
class ClientProfileAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "phone", "created_at")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    filter_horizontal = ("blocked_cleaners",)


@admin.register(Property)
class PropertyAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "property_type", "size_sqft", "bedrooms", "bathrooms", "has_pets")
    list_filter = ("property_type", "has_pets")
    raw_id_fields = ("owner",)


@admin.register(CleaningJob)
class CleaningJobAdmin(admin.ModelAdmin):
    list_display = ("id", "client", "service_type", "scheduled_start", "budget", "status", "assigned_cleaner")
    list_filter = ("status", "service_type")
    date_hierarchy = "scheduled_start"
    raw_id_fields = ("property", "client", "assigned_cleaner")


@admin.register(Bid)
class BidAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "cleaner", "amount", "status", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("job", "cleaner")


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "cleaner", "rating", "on_time", "created_at")
    list_filter = ("rating", "on_time")
    raw_id_fields = ("job", "cleaner", "client")
