select count(*)::bigint as n from lineage
