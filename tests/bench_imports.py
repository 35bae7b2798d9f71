# bench_imports.py: imports 30 modules the built-in profile preloads (none of which python3 imports at start-up), for tests/bench.sh.
#
# Under pywarm each import is served from the zygote's cache once the run's
# own path search has found the same files for the module and for all it
# imports; the difference from `pywarm -c pass` is the cost of that check.

import argparse
import ast
import asyncio
import base64
import copy
import csv
import dataclasses
import datetime
import decimal
import email.message
import email.parser
import fractions
import glob
import gzip
import hashlib
import heapq
import http.client
import inspect
import json
import logging
import pickle
import pprint
import selectors
import shlex
import socket
import string
import subprocess
import textwrap
import traceback
import uuid

print(len([argparse, ast, asyncio, base64, copy, csv, dataclasses, datetime, decimal, email.message,
           email.parser, fractions, glob, gzip, hashlib, heapq, http.client, inspect, json, logging,
           pickle, pprint, selectors, shlex, socket, string, subprocess, textwrap, traceback, uuid]))
