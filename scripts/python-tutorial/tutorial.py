"""The seed tutorial (shared/seed/arcgis-create-group-tutorial.txt), run against portal-sim.

Usage: tutorial.py [URL [USERNAME [PASSWORD]]]
       (or PORTAL_URL / PORTAL_USERNAME / PORTAL_PASSWORD; PORTAL_CA_BUNDLE = CA file to trust,
       otherwise the certificate is not verified)
"""

import os
import sys

from arcgis.gis import GIS

args = sys.argv[1:]
url = args[0] if len(args) > 0 else os.environ.get("PORTAL_URL", "https://127.0.0.1:8443")
username = args[1] if len(args) > 1 else os.environ.get("PORTAL_USERNAME", "admin")
password = args[2] if len(args) > 2 else os.environ.get("PORTAL_PASSWORD", "admin-password")
ca_bundle = os.environ.get("PORTAL_CA_BUNDLE")

# Authenticate with your ArcGIS Online account
if ca_bundle:
    gis = GIS(url, username, password, ca_bundles=ca_bundle)
else:
    gis = GIS(url, username, password, verify_cert=False)

# Create a group
group_properties = {
    "title": "Example Group",
    "description": "This is an example group",
    "tags": "example, group, arcgis python",
    "snippet": "Example group",
    "access": "public",  # Can be 'private', 'org', or 'public'
}

group = gis.groups.create_from_dict(group_properties)
print(f"Group created: {group.title}")

# Add an existing member to the group
usernames_to_add = ["member_username1", "member_username2"]
result = group.add_users(usernames_to_add)

if "notAdded" in result and result["notAdded"]:
    print(f"Failed to add user(s): {result['notAdded']}")
else:
    print(f"Users added successfully to the group {group.title}")
