-- Messages stored without any lineage entry (all of theirs removed).
select message_id from inbox i
 where not exists (select 1 from lineage l where l.message_id = i.message_id)
 order by received_at limit 10
