"""The engine: vocabulary codes, the year's context, household and area rules,
kernels, state, tallies, exit attribution, in-year delivery and the yearly
loop (:mod:`model.engine.sim`). It imports no programme, analysis, run or
scenario module: the loop is handed its programmes."""
