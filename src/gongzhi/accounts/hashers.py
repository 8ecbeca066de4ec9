"""A light PBKDF2 variant used only for the generated passwords of demo users.

Hashing 60-odd demo passwords with the default 1,000,000-iteration PBKDF2 takes
~17 s on a 2-core machine. Demo accounts are hashed with this hasher instead;
because it is not the first entry of ``PASSWORD_HASHERS``, Django re-hashes the
password with the default hasher at the user's first successful login.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class DemoPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_demo"
    iterations = 20_000
