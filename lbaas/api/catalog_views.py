"""Response bodies of flavors, flavor profiles, availability zones and their profiles."""


def flavor(row):
    """A flavor as Octavia renders it."""
    return {"id": row.id, "name": row.name or "", "description": row.description or "",
            "enabled": row.enabled, "flavor_profile_id": row.flavor_profile_id}


def flavor_profile(row):
    """A flavor profile; flavor_data is the JSON string as stored."""
    return {"id": row.id, "name": row.name or "", "provider_name": row.provider_name,
            "flavor_data": row.flavor_data}


def availability_zone(row):
    """An availability zone (known by name; it has no id)."""
    return {"name": row.name, "description": row.description or "", "enabled": row.enabled,
            "availability_zone_profile_id": row.availability_zone_profile_id}


def availability_zone_profile(row):
    """An availability zone profile; availability_zone_data is the JSON string as stored."""
    return {"id": row.id, "name": row.name or "", "provider_name": row.provider_name,
            "availability_zone_data": row.availability_zone_data}
