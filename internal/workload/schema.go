package workload

// Every identifier and every statement of the workload is here, so the schema
// the operator migrates and the SQL that writes and checks it are read (and
// changed) in one place.

// The tables, in schema public. payment_methods is matched by the DMS table
// mapping pattern payment_%; the control table of the drain watermark is the
// operator's, not the workload's.
const (
	TablePaymentMethods = "payment_methods"
	TablePayments       = "payments"
	TableTransactions   = "transactions"
	TableRefunds        = "refunds"
)

// Tables lists the workload's tables in foreign-key order (referenced first).
var Tables = []string{TablePaymentMethods, TablePayments, TableTransactions, TableRefunds}

// applicationName is the default application_name of the workload's
// sessions, so a test (or an operator) can find them in pg_stat_activity.
const applicationName = "paymentload"

// schemaSQL creates the schema; IF NOT EXISTS everywhere, so seeding twice is
// harmless. Amounts are bigint cents (no floating point in money), a payment
// carries a jsonb document of realistic size (network response, risk,
// merchant metadata: a few hundred bytes to ~2 KB, which is what makes full
// load and LOB settings matter), and the indexes are the ones a payment
// service has: by time for reporting, by foreign key for joins and deletes.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS public.payment_methods (
	id           bigserial PRIMARY KEY,
	customer_ref text NOT NULL,
	kind         text NOT NULL DEFAULT 'card' CHECK (kind IN ('card', 'bank_account', 'wallet')),
	network      text,
	last4        char(4),
	fingerprint  text NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.payments (
	id                bigserial PRIMARY KEY,
	idempotency_key   text NOT NULL UNIQUE,
	payment_method_id bigint NOT NULL REFERENCES public.payment_methods (id),
	amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
	currency          char(3) NOT NULL DEFAULT 'USD',
	status            text NOT NULL DEFAULT 'captured'
	                  CHECK (status IN ('pending', 'authorized', 'captured', 'failed', 'refunded')),
	details           jsonb NOT NULL DEFAULT '{}',
	created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_created_at_idx ON public.payments (created_at);
CREATE INDEX IF NOT EXISTS payments_payment_method_id_idx ON public.payments (payment_method_id);
CREATE TABLE IF NOT EXISTS public.transactions (
	id           bigserial PRIMARY KEY,
	payment_id   bigint NOT NULL REFERENCES public.payments (id),
	kind         text NOT NULL DEFAULT 'capture' CHECK (kind IN ('authorization', 'capture', 'refund')),
	amount_cents bigint NOT NULL CHECK (amount_cents > 0),
	currency     char(3) NOT NULL DEFAULT 'USD',
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS transactions_payment_id_idx ON public.transactions (payment_id);
CREATE TABLE IF NOT EXISTS public.refunds (
	id              bigserial PRIMARY KEY,
	payment_id      bigint NOT NULL REFERENCES public.payments (id),
	idempotency_key text NOT NULL UNIQUE,
	amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
	currency        char(3) NOT NULL DEFAULT 'USD',
	reason          text NOT NULL DEFAULT 'requested_by_customer',
	status          text NOT NULL DEFAULT 'succeeded' CHECK (status IN ('pending', 'succeeded', 'failed')),
	created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS refunds_payment_id_idx ON public.refunds (payment_id);
`

// seedLockKey serialises concurrent seeds of one database (an advisory
// transaction lock), so two seeders cannot both pre-fill the same keys.
const seedLockKey = 7_202_612_020_001

const seedLockSQL = `SELECT pg_advisory_xact_lock($1)`

// insertMethodSQL adds a payment method unless its fingerprint exists.
const insertMethodSQL = `
INSERT INTO public.payment_methods (customer_ref, kind, network, last4, fingerprint)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (fingerprint) DO NOTHING`

// listMethodsSQL is what Run and Seed pick payment methods from.
const listMethodsSQL = `SELECT id FROM public.payment_methods ORDER BY id LIMIT 1000`

// maxSeedSeqSQL finds how far an earlier seed got: seeded keys are
// "seed-<n>", pre-filled in order inside one transaction.
const maxSeedSeqSQL = `
SELECT coalesce(max(split_part(idempotency_key, '-', 2)::bigint), 0)
FROM public.payments
WHERE split_part(idempotency_key, '-', 1) = $1`

// paymentCopyColumns are the columns Seed copies into payments.
var paymentCopyColumns = []string{"idempotency_key", "payment_method_id", "amount_cents", "currency", "status", "details"}

// seedTransactionsSQL gives every seeded payment its capture row.
const seedTransactionsSQL = `
INSERT INTO public.transactions (payment_id, kind, amount_cents, currency)
SELECT p.id, 'capture', p.amount_cents, p.currency
FROM public.payments p
WHERE split_part(p.idempotency_key, '-', 1) = $1
  AND NOT EXISTS (SELECT 1 FROM public.transactions t WHERE t.payment_id = p.id)`

// insertPaymentSQL is the idempotent write of a payment: a retry whose first
// attempt committed (its acknowledgement lost) inserts nothing and returns no
// row, which the caller takes as "already acknowledged".
const insertPaymentSQL = `
INSERT INTO public.payments (idempotency_key, payment_method_id, amount_cents, currency, status, details)
VALUES ($1, $2, $3, $4, 'captured', $5)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id`

// insertCaptureSQL is the payment's transactions row, in the same transaction.
const insertCaptureSQL = `
INSERT INTO public.transactions (payment_id, kind, amount_cents, currency)
VALUES ($1, 'capture', $2, $3)`

// insertRefundSQL refunds a payment found by its key; the refund has its own
// idempotency key, so a retried refund is not paid twice either. No row back
// means the refund exists already (refundExistsSQL tells), or the payment is
// not on this database.
const insertRefundSQL = `
INSERT INTO public.refunds (payment_id, idempotency_key, amount_cents, currency)
SELECT p.id, $2, p.amount_cents, p.currency
FROM public.payments p
WHERE p.idempotency_key = $1
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING payment_id, amount_cents, currency`

const refundExistsSQL = `SELECT EXISTS (SELECT 1 FROM public.refunds WHERE idempotency_key = $1)`

const insertRefundTransactionSQL = `
INSERT INTO public.transactions (payment_id, kind, amount_cents, currency)
VALUES ($1, 'refund', $2, $3)`

const markRefundedSQL = `UPDATE public.payments SET status = 'refunded' WHERE id = $1`

// The ledger check loads the keys into a session temporary table (COPY, then
// set-based SQL): a million keys check in seconds, where a query per key
// would take minutes.
const (
	ledgerTable          = "paymentload_ledger"
	createLedgerTableSQL = `CREATE TEMPORARY TABLE paymentload_ledger (idempotency_key text NOT NULL, acknowledged boolean NOT NULL)`
	analyzeLedgerSQL     = `ANALYZE paymentload_ledger`
	dropLedgerTableSQL   = `DROP TABLE IF EXISTS pg_temp.paymentload_ledger`
)

var ledgerCopyColumns = []string{"idempotency_key", "acknowledged"}

// checkLedgerSQL classifies every key of the ledger and every payment row of
// the ledger's runs ($1: run ids; a key is "<run>-<n>") in one pass. A key is
// in the temporary table once (acknowledged wins, see Ledger). Samples are
// the first few keys of each problem, for the message.
const checkLedgerSQL = `
WITH present AS (
	SELECT p.idempotency_key AS k,
	       count(*) AS n,
	       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM public.transactions t WHERE t.payment_id = p.id)) AS without_tx
	FROM public.payments p
	WHERE split_part(p.idempotency_key, '-', 1) = ANY ($1::text[])
	GROUP BY p.idempotency_key
), joined AS (
	SELECT coalesce(l.idempotency_key, pr.k) AS k,
	       l.acknowledged,
	       coalesce(pr.n, 0) AS n,
	       coalesce(pr.without_tx, 0) AS without_tx
	FROM paymentload_ledger l
	FULL JOIN present pr ON pr.k = l.idempotency_key
)
SELECT
	count(*) FILTER (WHERE acknowledged AND n > 0),
	count(*) FILTER (WHERE acknowledged AND n = 0),
	(array_agg(k ORDER BY k) FILTER (WHERE acknowledged AND n = 0))[1:$2],
	count(*) FILTER (WHERE n > 1),
	coalesce(sum(n - 1) FILTER (WHERE n > 1), 0),
	(array_agg(k ORDER BY k) FILTER (WHERE n > 1))[1:$2],
	count(*) FILTER (WHERE NOT acknowledged AND n > 0),
	(array_agg(k ORDER BY k) FILTER (WHERE NOT acknowledged AND n > 0))[1:$2],
	count(*) FILTER (WHERE acknowledged IS NULL),
	(array_agg(k ORDER BY k) FILTER (WHERE acknowledged IS NULL))[1:$2],
	coalesce(sum(without_tx), 0),
	(array_agg(k ORDER BY k) FILTER (WHERE without_tx > 0))[1:$2]
FROM joined`
