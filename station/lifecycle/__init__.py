"""Key lifecycle after enrolment: revoke a key's passkey in Entra ID, replace a key, find drift between the
inventory and Entra ID, and act on leavers. Each operation records its intent before Graph is called and is
finished by running it again after a crash; Entra's answer, never a guess, settles what happened."""
