-- Failures by error code, with Twilio's description, most frequent first.
-- 30xxx codes come from status callbacks (the carrier), 21xxx from the API.
SELECT campaign,
       status,
       error_code,
       error_description,
       count(*) AS recipients
FROM recipient_results
WHERE status IN ('undelivered', 'failed')
GROUP BY campaign, status, error_code, error_description
ORDER BY campaign, recipients DESC, error_code;
