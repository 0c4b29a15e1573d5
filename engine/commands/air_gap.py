"""``airGap``: draw air into the tip above a well, so liquid does not drip on the way."""

from __future__ import annotations

from attrs import frozen

from .liquid import LiquidCommand


@frozen
class AirGap(LiquidCommand):
    """Draw ``volume`` µL of air into the tip where it is (above ``well``).

    Irreversible like an aspirate: it changes what is in the tip. The liquid accounting
    books it at ``well`` as the reference does (an aspirate at the well's top), so it
    balances the dispense that later pushes the air out with the liquid.
    """

    kind = "airGap"
