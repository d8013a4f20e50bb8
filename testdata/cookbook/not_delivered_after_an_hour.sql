-- Who has not been delivered an hour after Twilio took the message: still
-- without a delivery receipt (accepted, sent) or given up (undelivered, failed).
SELECT campaign,
       phone,
       status,
       error_code,
       error_description,
       sent_at
FROM recipient_results
WHERE sent_at < now() - interval '1 hour'
  AND status <> 'delivered'
ORDER BY campaign, sent_at, phone;
