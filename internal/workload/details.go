package workload

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// paymentDetails is the jsonb document of a payment: what a card network
// answered, what the risk engine said, what the merchant sent. Its size (a
// few hundred bytes to ~2 KB with the line items) is what a real payments
// table carries, which is what full load and LOB handling are measured on.
type paymentDetails struct {
	Network  networkResponse  `json:"network_response"`
	Risk     riskAssessment   `json:"risk"`
	Merchant merchantMetadata `json:"merchant"`
}

type networkResponse struct {
	Network              string `json:"network"`
	AuthCode             string `json:"auth_code"`
	ResponseCode         string `json:"response_code"`
	AVSResult            string `json:"avs_result"`
	CVVResult            string `json:"cvv_result"`
	NetworkTransactionID string `json:"network_transaction_id"`
	ECI                  string `json:"eci,omitempty"`
}

type riskAssessment struct {
	Score     int      `json:"score"`
	Decision  string   `json:"decision"`
	Rules     []string `json:"rules_triggered"`
	IPCountry string   `json:"ip_country"`
}

type merchantMetadata struct {
	MerchantID string     `json:"merchant_id"`
	OrderID    string     `json:"order_id"`
	CustomerIP string     `json:"customer_ip"`
	UserAgent  string     `json:"user_agent"`
	Items      []lineItem `json:"line_items"`
}

type lineItem struct {
	SKU         string `json:"sku"`
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
	UnitCents   int64  `json:"unit_amount_cents"`
}

var (
	networks    = []string{"visa", "mastercard", "amex", "discover"}
	avsResults  = []string{"Y", "A", "Z", "N", "U"}
	riskRules   = []string{"velocity_card_1h", "ip_country_mismatch", "new_device", "high_amount", "bin_country_mismatch", "email_age_lt_7d"}
	countries   = []string{"US", "GB", "DE", "FR", "CA", "NL", "IE", "ES"}
	userAgents  = []string{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", "PaymentsSDK-iOS/4.12.1 (iPhone15,3; iOS 17.5)"}
	productDesc = []string{"Annual subscription, premium tier", "Gift card", "Shipping and handling", "Wireless headphones, noise cancelling", "Coffee beans 1kg, single origin", "Extended warranty, 2 years"}
)

// newDetails returns a payment's document and its amount (the sum of its
// line items, at least one cent).
func newDetails(rng *rand.Rand) (doc []byte, amountCents int64, err error) {
	items := make([]lineItem, 1+rng.IntN(8))
	for i := range items {
		items[i] = lineItem{
			SKU:         fmt.Sprintf("SKU-%06d", rng.IntN(1_000_000)),
			Description: productDesc[rng.IntN(len(productDesc))],
			Quantity:    1 + rng.IntN(3),
			UnitCents:   99 + rng.Int64N(20_000),
		}
		amountCents += int64(items[i].Quantity) * items[i].UnitCents
	}
	rules := make([]string, rng.IntN(3))
	for i := range rules {
		rules[i] = riskRules[rng.IntN(len(riskRules))]
	}
	d := paymentDetails{
		Network: networkResponse{
			Network:              networks[rng.IntN(len(networks))],
			AuthCode:             fmt.Sprintf("%06d", rng.IntN(1_000_000)),
			ResponseCode:         "00",
			AVSResult:            avsResults[rng.IntN(len(avsResults))],
			CVVResult:            "M",
			NetworkTransactionID: fmt.Sprintf("%015d", rng.Int64N(1e15)),
			ECI:                  "05",
		},
		Risk: riskAssessment{Score: rng.IntN(100), Decision: "approve", Rules: rules, IPCountry: countries[rng.IntN(len(countries))]},
		Merchant: merchantMetadata{
			MerchantID: fmt.Sprintf("acct_%012x", rng.Int64N(1<<48)),
			OrderID:    fmt.Sprintf("ord_%016x", rng.Uint64()),
			CustomerIP: fmt.Sprintf("203.0.%d.%d", rng.IntN(256), rng.IntN(256)),
			UserAgent:  userAgents[rng.IntN(len(userAgents))],
			Items:      items,
		},
	}
	doc, err = json.Marshal(d)
	if err != nil {
		return nil, 0, fmt.Errorf("payment details: %w", err)
	}
	return doc, amountCents, nil
}

// paymentMethod is a sample payment method Seed creates.
type paymentMethod struct {
	customerRef, kind, network, last4, fingerprint string
}

// sampleMethods are the payment methods Seed creates (fixed fingerprints,
// so seeding twice adds none).
func sampleMethods(n int) []paymentMethod {
	methods := make([]paymentMethod, n)
	for i := range methods {
		m := paymentMethod{customerRef: fmt.Sprintf("cus_%06d", i+1), kind: "card", network: networks[i%len(networks)],
			last4: fmt.Sprintf("%04d", (4242+i*37)%10000), fingerprint: fmt.Sprintf("fp_sample_%06d", i+1)}
		switch i % 10 {
		case 7:
			m.kind, m.network = "bank_account", ""
		case 9:
			m.kind, m.network = "wallet", ""
		}
		methods[i] = m
	}
	return methods
}
