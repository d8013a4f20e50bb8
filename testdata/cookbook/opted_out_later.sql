-- Recipients of a campaign who opted out after it texted them (replied STOP,
-- or Twilio refused a later message with 21610): who this campaign lost.
SELECT r.phone,
       r.status,
       r.sent_at,
       o.created_at AS opted_out_at,
       o.source,
       o.reason
FROM recipient_results r
JOIN opt_outs o ON o.phone = r.phone
WHERE r.campaign = 'spring-sale'
  AND o.created_at > r.sent_at
ORDER BY o.created_at, r.phone;
