"""Credits: prepaid balances with grants, FIFO deduction, expiry, rollover and overage (Dodo's
credit-based billing), and customer wallets (a fiat balance per currency).

Pure rules: :mod:`.amounts` (precision, the rounding rule), :mod:`.accrual` (usage finer than the
precision), :mod:`.entitlement` (what a credit is), :mod:`.cycles` (cycle ends, rollover timeframes),
:mod:`.ledger` (grants, deduction, settlement), :mod:`.wallets` (wallet rules), :mod:`.views` (read models
and wire shapes). Use cases: :mod:`.operations` (inside a caller's transaction), :mod:`.service`
(``CreditService``), :mod:`.wallet_service` (``WalletService``), :mod:`.products` (products attaching
credits), :mod:`.metered` (real-time deduction from metered events), :mod:`.covering` (the ledger as the
policy engine's covering balance); :mod:`.dashboard_provider` and :mod:`.demo` feed the dashboard and
``meterbase demo``. SQL lives in ``storage/credits_repo.py`` and ``storage/wallets_repo.py``.
"""

from .entitlement import OVERAGE_BEHAVIORS, CreditEntitlement
from .ledger import TRANSACTION_TYPES, InsufficientCredits

__all__ = ["OVERAGE_BEHAVIORS", "TRANSACTION_TYPES", "CreditEntitlement", "InsufficientCredits"]
