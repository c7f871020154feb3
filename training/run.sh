#!/bin/sh
# Starts (or resumes) training in the background at the lowest CPU priority; extra arguments go to train.py.
cd "$(dirname "$0")" && mkdir -p run && nohup nice -n 19 /usr/bin/python3 train.py "$@" >> run/train.out 2>&1 &
