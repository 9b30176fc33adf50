select message_id from inbox where control_id = $1 order by received_at
