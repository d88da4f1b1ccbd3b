"""Request bodies of flavors, flavor profiles, availability zones and their profiles."""
from lbaas.api.schemas import fields as f
from lbaas.core import constants as c


class FlavorPOST(f.Strict):
    name = f.Str(required=True)
    description = f.Str(allow_none=True)
    enabled = f.Bool(allow_none=True)
    flavor_profile_id = f.Uuid(required=True)


class FlavorPUT(f.Strict):
    name = f.Str(allow_none=True)  # null: 400 from the core, as Octavia words it
    description = f.Str(allow_none=True)
    enabled = f.Bool(allow_none=True)


class FlavorProfilePOST(f.Strict):
    name = f.Str(required=True)
    provider_name = f.Str(required=True)
    flavor_data = f.Str(c.MAX_PROFILE_DATA, required=True)


class FlavorProfilePUT(f.Strict):
    name = f.Str(allow_none=True)
    provider_name = f.Str(allow_none=True)
    flavor_data = f.Str(c.MAX_PROFILE_DATA, allow_none=True)


class AvailabilityZonePOST(f.Strict):
    name = f.Str(required=True, min_len=1)  # the zone's URL: an empty one could not be reached
    description = f.Str(allow_none=True)
    enabled = f.Bool(allow_none=True)
    availability_zone_profile_id = f.Uuid(required=True)


class AvailabilityZonePUT(f.Strict):
    description = f.Str(allow_none=True)
    enabled = f.Bool(allow_none=True)


class AvailabilityZoneProfilePOST(f.Strict):
    name = f.Str(required=True)
    provider_name = f.Str(required=True)
    availability_zone_data = f.Str(c.MAX_PROFILE_DATA, required=True)


class AvailabilityZoneProfilePUT(f.Strict):
    name = f.Str(allow_none=True)
    provider_name = f.Str(allow_none=True)
    availability_zone_data = f.Str(c.MAX_PROFILE_DATA, allow_none=True)


FlavorCreate = f.envelope("flavor", FlavorPOST, "FlavorCreate")
FlavorUpdate = f.envelope("flavor", FlavorPUT, "FlavorUpdate")
FlavorProfileCreate = f.envelope("flavorprofile", FlavorProfilePOST, "FlavorProfileCreate")
FlavorProfileUpdate = f.envelope("flavorprofile", FlavorProfilePUT, "FlavorProfileUpdate")
AvailabilityZoneCreate = f.envelope("availability_zone", AvailabilityZonePOST,
                                    "AvailabilityZoneCreate")
AvailabilityZoneUpdate = f.envelope("availability_zone", AvailabilityZonePUT,
                                    "AvailabilityZoneUpdate")
AvailabilityZoneProfileCreate = f.envelope("availability_zone_profile",
                                           AvailabilityZoneProfilePOST,
                                           "AvailabilityZoneProfileCreate")
AvailabilityZoneProfileUpdate = f.envelope("availability_zone_profile",
                                           AvailabilityZoneProfilePUT,
                                           "AvailabilityZoneProfileUpdate")
