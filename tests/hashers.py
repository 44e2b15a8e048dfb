"""The password hasher the test process uses: Django's PBKDF2 with few iterations.

Hashing a password with the real iteration count takes 0.6 s on the CI machine, and most
tests create two or three users. The algorithm keeps its name and the iteration count is
stored in the hash, so the portal's own processes that a test starts (with the real
settings) still verify these passwords, and upgrade them on the first sign-in.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1_000
