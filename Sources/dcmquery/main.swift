print("dcmquery: not built yet")
