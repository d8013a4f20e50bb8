-- Delivery rate per campaign: delivered out of the messages Twilio took (a
-- message sid), so recipients skipped as opted out or refused by the API do
-- not count against the carriers.
SELECT name,
       total,
       delivered,
       undelivered,
       failed,
       round(100 * delivery_rate, 1) AS delivered_pct
FROM campaign_stats
ORDER BY name;
