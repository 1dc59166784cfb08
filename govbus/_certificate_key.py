"""Certificate keys, `<licence type code>:<licence number>`: read and written here only.

The licence type code names the certificate's resource in the catalog; the number is the
issuer's own and may itself hold ':' (the key splits at the first one).
"""

from __future__ import annotations

from typing import NamedTuple

from govbus._errors import ErrorCode, GovbusError

SEPARATOR = ":"


class CertificateKey(NamedTuple):
    licence_type_code: str
    licence_number: str

    @classmethod
    def parse(cls, text: str, *, field: str = "entity_key") -> CertificateKey:
        """The key's two parts; INVALID_IDENTIFIER naming `field` if it is not a key.

        The message never repeats the text: a certificate number can be personal data."""
        type_code, separator, number = text.partition(SEPARATOR)
        if not separator or not type_code or not number:
            raise _not_a_key(field)
        return cls(type_code, number)

    def format(self) -> str:
        """The key as stored and sent; refuses parts `parse` would not read back."""
        if not self.licence_type_code or SEPARATOR in self.licence_type_code:
            raise _not_a_key("licence_type_code")
        if not self.licence_number:
            raise _not_a_key("licence_number")
        return f"{self.licence_type_code}{SEPARATOR}{self.licence_number}"

    def __str__(self) -> str:
        return self.format()


def _not_a_key(field: str) -> GovbusError:
    return GovbusError(
        ErrorCode.INVALID_IDENTIFIER,
        f"{field} of a certificate must make a key '<licence type code>:<licence number>' "
        "(a type code without ':', a number not empty)",
        field=field,
    )
