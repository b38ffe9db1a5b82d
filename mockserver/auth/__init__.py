"""The Portal side: users, privileges, tokens and the sharing API facade."""
