"""What instructors do in the app: for now, verify the live bank against real torch (the
authoring work adds accounts, courses and the editor here)."""
